"""Pure numeric engines of the analytics app: functions over numpy arrays and pandas objects.

No ORM, no Django settings, no clock, no network; vectorised over positions and symbols. Services
in ``analytics.services`` load data, call these and persist the results. Units and conventions are
in each module's docstring; the headline ones:

- ``black_scholes`` — Black–Scholes–Merton with dividend yield, broadcasting arrays:
  ``bsm_price``, ``bsm_greeks`` → ``Greeks`` (per share; theta per calendar day, vega per vol point,
  rho per 1 % of rate; ``expired`` / ``invalid`` masks, NaN values), ``implied_vol`` (Newton with
  bisection safeguard), ``position_greeks`` → ``PositionGreeks`` (× signed quantity × multiplier;
  dollar delta = delta q m S; dollar gamma = ½ Γ q m (0.01 S)²), ``intrinsic_value`` and
  ``expiry_greeks`` (an option on its expiration day: intrinsic, delta ±1 / 0 by moneyness).
- ``factors`` — ``simple_returns``, ``factor_returns`` (market = SPY, styles = ETF − SPY spreads,
  interest_rate = TLT), ``fit_factor_betas`` → ``FactorFit`` (batched OLS/ridge, quality flags,
  condition number), ``condition_number``, ``flag_extreme``, ``univariate_beta``.
- ``valuation`` — ``position_values`` (market value, cost basis, unrealised P&L, delta exposure),
  ``exposure_totals`` → ``ExposureTotals`` (long, short, gross, net, delta-adjusted, options/stocks,
  cash, leverage), ``totals_by_group`` (by tag or underlying), ``daily_pnl``: the one valuation for
  the batch, the snapshots, the positions endpoint and what-if.
- ``book`` — ``PositionBook``: the positions the revaluation engines take (quantity, multiplier,
  price, option fields, rate, dividend yield, the volatility-index mask as length-N arrays).
- ``scenarios`` — ``MARKET_SHOCKS``, ``shocked_price_ratio`` (β × shock down to −50 %, then
  exponential: no price ever ≤ 0), ``underlying_shocked_spots``, ``option_value`` (BSM; Black-76 on the
  forward for a volatility index; intrinsic at expiry), ``option_repricing_pnl``,
  ``market_price_ratio`` (a volatility index by its own model), ``scenario_pnl`` (stocks by beta,
  options fully repriced).
- ``stress`` — ``proxy_shock_vector``, ``conditional_fill``, ``direct_factor_shocks``,
  ``conditioned_factor_shocks``, ``scenario_factor_shocks``, ``stress_pnl`` → ``StressResult``.
- ``volatility_index`` — VIX options: ``forward`` / ``forward_vol`` of a log-OU index,
  ``black76_price``, ``option_price``, ``option_delta`` (per index point of spot), ``option_greeks``
  (delta, gamma, theta, vega, rho), ``shocked_level`` (log-return or stated-vol-shift shocks, floored).
- ``correlations`` — ``log_returns``, ``correlation_matrix``, ``pairwise_pearson``, ``correlation_clusters``,
  ``average_abs_correlation``, ``effective_positions``, ``diversification_score``.
- ``var`` — ``historical_var``, ``parametric_var`` → ``VarResult`` (1-day, positive losses,
  components summing to totals), ``tail_size``, ``historical_position_pnl`` (each day's returns and
  implied-vol ratios), ``specific_covariance``.
"""
