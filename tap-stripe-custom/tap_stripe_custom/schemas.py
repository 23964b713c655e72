"""JSON schemas of the Stripe objects we extract: nested objects kept, amounts integer."""

from __future__ import annotations

from singer_sdk import typing as th

EPOCH_FIELDS = ("created", "available_on")


LIVEMODE = th.Property("livemode", th.BooleanType)
METADATA = th.Property(
    "metadata",
    th.ObjectType(additional_properties=th.StringType),
    description="Free-form key/value pairs; metadata.order_id joins to shop orders.",
)


def _common(*properties: th.Property) -> th.PropertiesList:
    """Fields every extracted object has; `livemode` and `metadata` are listed per object
    because Stripe's refunds and balance transactions lack one or both."""
    return th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("object", th.StringType),
        th.Property("created", th.DateTimeType, description="Unix epoch from Stripe, as UTC."),
        th.Property(
            "updated",
            th.DateTimeType,
            description="When this version was observed: created, or the newest event that "
            "changed it.",
        ),
        th.Property("is_deleted", th.BooleanType),
        *properties,
    )


CARD = th.ObjectType(
    th.Property("brand", th.StringType),
    th.Property("country", th.StringType),
    th.Property("exp_month", th.IntegerType),
    th.Property("exp_year", th.IntegerType),
    th.Property("funding", th.StringType),
    th.Property("last4", th.StringType),
    th.Property("network", th.StringType),
)

CHARGE = _common(
    LIVEMODE,
    METADATA,
    th.Property("amount", th.IntegerType, description="Minor units (cents)."),
    th.Property("amount_captured", th.IntegerType),
    th.Property("amount_refunded", th.IntegerType),
    th.Property("currency", th.StringType),
    th.Property("status", th.StringType),
    th.Property("paid", th.BooleanType),
    th.Property("captured", th.BooleanType),
    th.Property("refunded", th.BooleanType),
    th.Property("disputed", th.BooleanType),
    th.Property("customer", th.StringType),
    th.Property("description", th.StringType),
    th.Property("balance_transaction", th.StringType),
    th.Property("payment_intent", th.StringType),
    th.Property("payment_method", th.StringType),
    th.Property("receipt_email", th.StringType),
    th.Property("failure_code", th.StringType),
    th.Property("failure_message", th.StringType),
    th.Property(
        "billing_details",
        th.ObjectType(
            th.Property("email", th.StringType),
            th.Property("name", th.StringType),
            th.Property("address", th.ObjectType(th.Property("country", th.StringType))),
        ),
    ),
    th.Property(
        "outcome",
        th.ObjectType(
            th.Property("network_status", th.StringType),
            th.Property("reason", th.StringType),
            th.Property("risk_level", th.StringType),
            th.Property("risk_score", th.IntegerType),
            th.Property("seller_message", th.StringType),
            th.Property("type", th.StringType),
        ),
    ),
    th.Property(
        "payment_method_details",
        th.ObjectType(th.Property("card", CARD), th.Property("type", th.StringType)),
    ),
)

REFUND = _common(
    METADATA,
    th.Property("amount", th.IntegerType, description="Minor units (cents)."),
    th.Property("currency", th.StringType),
    th.Property("charge", th.StringType),
    th.Property("payment_intent", th.StringType),
    th.Property("balance_transaction", th.StringType),
    th.Property("reason", th.StringType),
    th.Property("status", th.StringType),
)

CUSTOMER = _common(
    LIVEMODE,
    METADATA,
    th.Property("email", th.StringType),
    th.Property("name", th.StringType),
    th.Property("currency", th.StringType),
    th.Property("delinquent", th.BooleanType),
)

PAYMENT_INTENT = _common(
    LIVEMODE,
    METADATA,
    th.Property("amount", th.IntegerType),
    th.Property("amount_received", th.IntegerType),
    th.Property("currency", th.StringType),
    th.Property("customer", th.StringType),
    th.Property("latest_charge", th.StringType),
    th.Property("payment_method_types", th.ArrayType(th.StringType)),
    th.Property("status", th.StringType),
)

BALANCE_TRANSACTION = _common(
    th.Property("amount", th.IntegerType),
    th.Property("fee", th.IntegerType),
    th.Property("net", th.IntegerType),
    th.Property("currency", th.StringType),
    th.Property("available_on", th.DateTimeType),
    th.Property("type", th.StringType),
    th.Property("source", th.StringType),
    th.Property("status", th.StringType),
    th.Property("reporting_category", th.StringType),
)

DISPUTE = _common(
    LIVEMODE,
    METADATA,
    th.Property("amount", th.IntegerType),
    th.Property("currency", th.StringType),
    th.Property("charge", th.StringType),
    th.Property("payment_intent", th.StringType),
    th.Property("reason", th.StringType),
    th.Property("status", th.StringType),
)
