from django.apps import AppConfig


class MarketdataConfig(AppConfig):
    name = "marketdata"
    verbose_name = "Market data"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.doctor import register_doctor_check

        for order, (name, function) in enumerate(
            [
                ("market data freshness", "check_market_data_freshness"),
                ("market data coverage", "check_market_data_coverage"),
                ("factor data", "check_factor_data"),
            ]
        ):
            register_doctor_check(name, f"marketdata.doctor.{function}", order=30 + order, takes_now=True)
        register_doctor_check("price quarantine", "marketdata.doctor.check_price_quarantine", order=34)
        register_doctor_check(
            "market data provider", "marketdata.doctor.check_market_data_provider", order=70, needs_database=False
        )
