from django.apps import AppConfig


class PortfoliosConfig(AppConfig):
    name = "portfolios"
    verbose_name = "Portfolios"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.doctor import register_doctor_check

        register_doctor_check("demo data", "portfolios.doctor.check_demo_data", order=20)
