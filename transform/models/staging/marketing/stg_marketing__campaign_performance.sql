{%- set date_column = source_column('date') -%}
with source as (
    {{ latest_version(source('marketing', 'campaign_performance'), date_column ~ ', campaign_id') }}
),

renamed as (
    select
        {{ surrogate_key([date_column, 'campaign_id']) }} as performance_id,
        cast({{ date_column }} as date) as performance_date,
        campaign_id,
        trim(campaign_name) as campaign_name,
        lower(trim(channel)) as channel,
        conversions,
        revenue_attributed,
        _sdc_source_file as source_file,
        _sdc_source_lineno as source_lineno
    from source
)

select * from renamed
