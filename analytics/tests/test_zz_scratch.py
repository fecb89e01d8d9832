from analytics.models import PortfolioResult
from portfolios.demo import demo_portfolio_id, load_fixture


def test_print(analytics_demo):
    for user in load_fixture()["users"]:
        email = user["email"]
        rows = {r.kind: r.payload for r in PortfolioResult.objects.filter(portfolio_id=demo_portfolio_id(email))}
        o = rows["overview"]
        print(
            email,
            "gross",
            o["gross_leverage"],
            "delta-adj",
            o["delta_adjusted_leverage"],
            "net delta",
            o["delta_adjusted_exposure"] / o["equity_balance"],
        )
        worst = rows["stress_test"]["worst"]
        print("  worst", worst)
        print("  market", [(s["id"], s["pnl"], s["pnl_pct_of_equity"]) for s in rows["market_risk"]["scenarios"]])
        print("  flags", rows["factor_exposures"]["flags"])
        print("  var", rows["var"]["historical"], rows["var"]["parametric"])
        for p in rows["greeks"]["positions"]:
            if p["underlying"] == "VIX":
                print("  VIX", p)
        print("  by_underlying VIX", rows["greeks"]["by_underlying"].get("VIX"))
