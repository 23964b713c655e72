{%- set date_column = source_column('date') -%}
with source as (
    {{ latest_version(source('marketing', 'ad_events'), 'event_id') }}
),

renamed as (
    select
        event_id,
        cast({{ date_column }} as date) as event_date,
        lower(trim(platform)) as channel,
        trim(campaign_id) as campaign_id,
        impressions,
        clicks,
        cast(cost as decimal(18, 2)) as cost,
        attributes,
        {{ json_text('attributes', 'placement') }} as placement,
        _sdc_source_file as source_file,
        _sdc_source_lineno as source_lineno
    from source
)

select * from renamed
