with source as (
    {{ latest_version(source('marketing', 'marketing_spend'), '"date", channel, campaign_name') }}
),

renamed as (
    select
        {{ surrogate_key(['"date"', 'channel', 'campaign_name']) }} as spend_id,
        cast("date" as date) as spend_date,
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
