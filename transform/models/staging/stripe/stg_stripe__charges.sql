with source as (
    {{ latest_version(source('stripe', 'charges'), 'id', 'updated') }}
),

renamed as (
    select
        id as charge_id,
        try_cast({{ json_text('metadata', 'order_id') }} as integer) as order_id,
        customer as stripe_customer_id,
        lower(currency) as currency,
        amount as amount_minor,
        amount_refunded as amount_refunded_minor,
        {{ minor_units_to_amount('amount', 'currency') }} as amount,
        {{ minor_units_to_amount('amount_refunded', 'currency') }} as amount_refunded,
        status as charge_status,
        paid as is_paid,
        refunded as is_refunded,
        created as created_at,
        updated as updated_at
    from source
)

select * from renamed
