with source as (
    {{ latest_version(source('stripe', 'refunds'), 'id', 'updated') }}
),

renamed as (
    select
        id as refund_id,
        charge as charge_id,
        lower(currency) as currency,
        amount as amount_minor,
        {{ minor_units_to_amount('amount', 'currency') }} as amount,
        status as refund_status,
        reason as refund_reason,
        created as created_at,
        updated as updated_at
    from source
)

select * from renamed
