with source as (
    {{ current_state(source('shop', 'products'), 'product_id', 'updated_at') }}
),

renamed as (
    select
        cast(product_id as integer) as product_id,
        name as product_name,
        category,
        subcategory,
        price,
        cost,
        weight_kg,
        is_active,
        cost is null as is_cost_missing,
        coalesce(cost < 0, false) as is_cost_negative,
        created_at,
        updated_at
    from source
)

select * from renamed
