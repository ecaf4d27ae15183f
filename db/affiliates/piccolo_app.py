"""Piccolo app for the affiliates domain (profiles, commissions, ledger, payouts)."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from db.affiliates.tables import (
    AffiliateProfile,
    Commission,
    LedgerBalance,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    RiskChange,
    WithdrawalRequest,
)

APP_CONFIG = AppConfig(
    app_name="affiliates",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        AffiliateProfile,
        RiskChange,
        Commission,
        Payout,
        WithdrawalRequest,
        LedgerTransaction,
        LedgerEntry,
        LedgerBalance,
    ],
    migration_dependencies=["db.billing.piccolo_app"],
)
