select
    spend_id as marketing_spend_key,
    {{ surrogate_key(['spend_date']) }} as spend_date_key,
    spend_date,
    channel,
    campaign_name,
    spend,
    impressions,
    clicks,
    case when impressions > 0 then cast(clicks as double) / impressions end as click_through_rate,
    case when clicks > 0 then cast(spend as double) / clicks end as cost_per_click
from {{ ref('stg_marketing__spend') }}
