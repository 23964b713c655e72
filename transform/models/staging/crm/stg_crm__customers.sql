with source as (
    {{ latest_version(source('crm', 'customers'), 'id', 'updated_at') }}
),

renamed as (
    select
        id as crm_customer_id,
        nullif(lower(trim(email)), '') as email,
        nullif(trim(full_name), '') as full_name,
        nullif(trim(phone), '') as phone,
        nullif(lower(trim(status)), '') as crm_status,
        nullif(lower(trim(segment)), '') as segment,
        signup_date,
        signup_date_raw,
        try_cast(replace(replace(trim(lifetime_value), ',', ''), '$', '') as decimal(18, 2))
            as lifetime_value,
        try_cast(trim(num_orders) as integer) as order_count,
        updated_at,
        _extra as extra_fields
    from source
)

select * from renamed
