with source as (
    {{ current_state(source('shop', 'orders'), 'order_id', 'updated_at') }}
),

renamed as (
    select
        cast(order_id as integer) as order_id,
        cast(customer_id as integer) as customer_id,
        order_date as ordered_at,
        lower(trim(status)) as order_status,
        total_amount,
        shipping_address,
        shipping_city,
        {{ state_code('shipping_state') }} as shipping_state_code,
        {{ country_code('shipping_country') }} as shipping_country_code,
        shipping_zip,
        created_at,
        updated_at
    from source
)

select * from renamed
