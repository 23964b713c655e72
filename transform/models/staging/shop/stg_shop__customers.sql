with source as (
    {{ current_state(source('shop', 'customers'), 'customer_id', 'updated_at') }}
),

renamed as (
    select
        cast(customer_id as integer) as customer_id,
        lower(trim(email)) as email,
        first_name,
        last_name,
        nullif(trim(phone), '') as phone,
        address,
        city,
        {{ state_code('state') }} as state_code,
        {{ country_code('country') }} as country_code,
        zip_code,
        created_at,
        updated_at
    from source
)

select * from renamed
