{%- set date_column = source_column('date') -%}
with source as (
    {{ latest_version(source('marketing', 'marketing_spend'), date_column ~ ', channel, campaign_name') }}
),

renamed as (
    select
        {{ surrogate_key([date_column, 'channel', 'campaign_name']) }} as spend_id,
        cast({{ date_column }} as date) as spend_date,
        lower(trim(channel)) as channel,
        trim(campaign_name) as campaign_name,
        spend,
        impressions,
        clicks,
        _sdc_source_file as source_file,
        _sdc_source_lineno as source_lineno
    from source
)

select * from renamed
