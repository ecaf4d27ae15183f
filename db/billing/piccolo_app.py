"""Piccolo app for the billing domain."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from db.billing.tables import (
    BillingCustomer,
    Invoice,
    MailNotice,
    MailRefusal,
    PaymentButton,
    Plan,
    Product,
    Purchase,
    RefundRequest,
    StripeEvent,
)

APP_CONFIG = AppConfig(
    app_name="billing",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        StripeEvent,
        Product,
        Plan,
        PaymentButton,
        BillingCustomer,
        Purchase,
        Invoice,
        RefundRequest,
        MailNotice,
        MailRefusal,
    ],
    migration_dependencies=["db.chat.piccolo_app"],
)
