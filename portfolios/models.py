"""Users, portfolios, positions and tags (DESIGN §3).

Money is ``Decimal`` at this layer. Quantity is signed: negative means short. Option quantities
are contracts; ``multiplier`` (100 for equity options) turns a per-share price into a per-contract
value. The database holds the sign and shape rules as CHECK constraints; ``services`` checks the
same rules first so that a client gets a message naming the rule it broke.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    """Creates users keyed by a normalised, lower-cased email."""

    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address and owns portfolios."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; deactivating a user revokes every refresh token they hold (``portfolios.tokens``)."""
        deactivated = (
            not self._state.adding
            and not self.is_active
            and type(self).objects.filter(pk=self.pk, is_active=True).exists()
        )
        super().save(*args, **kwargs)
        if deactivated:
            from portfolios.tokens import user_tokens_revoke  # tokens imports this module

            user_tokens_revoke(user=self)


DEFAULT_BENCHMARK = "SPY"


class Portfolio(models.Model):
    """A book of positions owned by one user; ``equity_balance`` is the user-supplied NAV in USD;
    ``benchmark_symbol`` the symbol its tracking error is measured against."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="portfolios")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default="USD")
    equity_balance = models.DecimalField(
        max_digits=20, decimal_places=2, null=True, blank=True, help_text="Net asset value in USD, if known."
    )
    benchmark_symbol = models.CharField(
        max_length=20,
        default=DEFAULT_BENCHMARK,
        db_default=DEFAULT_BENCHMARK,  # rows written by code that predates the field (older migrations' states)
        help_text="Symbol the tracking error and active risk are measured against (any symbol with stored prices).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="portfolio_unique_name_per_user"),
            models.CheckConstraint(
                condition=Q(equity_balance__isnull=True) | Q(equity_balance__gte=0),
                name="portfolio_equity_balance_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TagType(models.TextChoices):
    REGULAR = "REGULAR", "Regular"
    STRATEGY = "STRATEGY", "Strategy"


class Tag(models.Model):
    """A label a user puts on positions (e.g. "Tech Growth", strategy "Options Overlay")."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=100)
    tag_type = models.CharField(max_length=10, choices=TagType.choices, default=TagType.REGULAR)
    color = models.CharField(max_length=7, default="#4A90D9")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="tag_unique_name_per_user")]

    def __str__(self) -> str:
        return self.name


class PositionType(models.TextChoices):
    LONG = "LONG", "Long stock"
    SHORT = "SHORT", "Short stock"
    LC = "LC", "Long call"
    LP = "LP", "Long put"
    SC = "SC", "Short call"
    SP = "SP", "Short put"


class AssetClass(models.TextChoices):
    STOCK = "stock", "Stock"
    ETF = "etf", "ETF"
    MUTUAL_FUND = "mutual_fund", "Mutual fund"
    INDEX = "index", "Index"
    OPTION = "option", "Option"


OPTION_TYPES = (PositionType.LC, PositionType.LP, PositionType.SC, PositionType.SP)
STOCK_TYPES = (PositionType.LONG, PositionType.SHORT)
LONG_TYPES = (PositionType.LONG, PositionType.LC, PositionType.LP)
SHORT_TYPES = (PositionType.SHORT, PositionType.SC, PositionType.SP)
CALL_TYPES = (PositionType.LC, PositionType.SC)


class Position(models.Model):
    """A holding: stock/ETF/fund (LONG, SHORT) or an option contract (LC, LP, SC, SP).

    ``quantity`` is signed shares or contracts; ``entry_price`` is per share (the premium per share
    for options). Market value = quantity × price × multiplier.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=40, help_text="Ticker, or the OCC symbol for an option.")
    position_type = models.CharField(max_length=5, choices=PositionType.choices)
    asset_class = models.CharField(max_length=12, choices=AssetClass.choices, default=AssetClass.STOCK)
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    entry_price = models.DecimalField(max_digits=20, decimal_places=6)
    entry_date = models.DateField()
    exit_price = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    exit_date = models.DateField(null=True, blank=True)
    underlying_symbol = models.CharField(max_length=20, blank=True, default="")
    strike = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    expiration = models.DateField(null=True, blank=True)
    multiplier = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("1"))
    notes = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, related_name="positions", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["portfolio_id", "symbol", "id"]
        indexes = [models.Index(fields=["symbol"]), models.Index(fields=["underlying_symbol"])]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="position_quantity_not_zero"),
            models.CheckConstraint(
                condition=~Q(position_type__in=LONG_TYPES) | Q(quantity__gt=0),
                name="position_long_types_positive_quantity",
            ),
            models.CheckConstraint(
                condition=~Q(position_type__in=SHORT_TYPES) | Q(quantity__lt=0),
                name="position_short_types_negative_quantity",
            ),
            models.CheckConstraint(
                condition=~Q(position_type__in=OPTION_TYPES)
                | (
                    ~Q(underlying_symbol="")
                    & Q(strike__gt=0)
                    & Q(expiration__isnull=False)
                    & Q(multiplier__gt=0)
                    & Q(asset_class=AssetClass.OPTION)
                ),
                name="position_option_fields_required",
            ),
            models.CheckConstraint(
                condition=~Q(position_type__in=STOCK_TYPES)
                | (
                    Q(underlying_symbol="")
                    & Q(strike__isnull=True)
                    & Q(expiration__isnull=True)
                    & Q(multiplier=1)
                    & ~Q(asset_class=AssetClass.OPTION)
                ),
                name="position_stock_fields_absent",
            ),
            models.CheckConstraint(condition=Q(entry_price__gte=0), name="position_entry_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.quantity}"

    @property
    def is_option(self) -> bool:
        return self.position_type in OPTION_TYPES

    @property
    def is_call(self) -> bool:
        return self.position_type in CALL_TYPES

    @property
    def price_symbol(self) -> str:
        """The symbol whose price drives this position (the underlying for an option)."""
        return self.underlying_symbol if self.is_option else self.symbol
