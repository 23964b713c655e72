-- One row per calendar day covering every order, payment and campaign date.
with days as (
    select cast(day as date) as date_day
    from generate_series(date '2023-01-01', date '2027-12-31', interval 1 day) as t(day)
)

select
    date_day,
    {{ surrogate_key(['date_day']) }} as date_key,
    year(date_day) as year,
    quarter(date_day) as quarter,
    month(date_day) as month,
    strftime(date_day, '%B') as month_name,
    dayofmonth(date_day) as day_of_month,
    isodow(date_day) as iso_day_of_week,
    strftime(date_day, '%A') as day_name,
    isodow(date_day) in (6, 7) as is_weekend,
    yearweek(date_day) as iso_year_week
from days
