select
    {{ surrogate_key(['product_id']) }} as product_key,
    product_id,
    product_name,
    category,
    subcategory,
    price,
    cost,
    price - cost as unit_margin,
    weight_kg,
    is_active,
    is_cost_missing,
    is_cost_negative,
    created_at,
    updated_at
from {{ ref('stg_shop__products') }}
