with source as (
    {{ current_state(source('shop', 'order_items'), 'order_item_id') }}
),

renamed as (
    select
        cast(order_item_id as integer) as order_item_id,
        cast(order_id as integer) as order_id,
        cast(product_id as integer) as product_id,
        quantity,
        unit_price,
        discount_pct,
        line_total,
        created_at
    from source
)

select * from renamed
