-- Price tables for provider_cost. Seeded once (only while empty); edit the rows to match your
-- contracts: `INSERT INTO provider_presets ...` replaces a preset of the same name.
-- Money is in micros (millionths) of USD.

CREATE TABLE IF NOT EXISTS provider_presets
(
    provider String,
    monthly_fee_micros Int64,
    per_message_micros Int64,
    free_messages_per_month Int64,
    updated_ms Int64 DEFAULT toUnixTimestamp64Milli(now64(3))
)
ENGINE = ReplacingMergeTree(updated_ms)
ORDER BY provider;

-- design.md §6 presets, and the Cloud API used directly (Meta fees only) as a baseline.
INSERT INTO provider_presets (provider, monthly_fee_micros, per_message_micros, free_messages_per_month)
SELECT * FROM values(
    'provider String, fee Int64, per_message Int64, free Int64',
    ('cloud_api_direct', 0, 0, 0),
    ('twilio', 0, 5000, 0),
    ('messagebird', 50000000, 4500, 1000),
    ('zenvia', 30000000, 6000, 500)
)
WHERE (SELECT count() FROM provider_presets) = 0;

-- Meta's per-message price by template category and recipient country, matched on the
-- longest calling-code prefix of the customer's number ('' = every other country).
-- Illustrative rates: replace them with Meta's current rate card for your currency.
CREATE TABLE IF NOT EXISTS meta_prices
(
    calling_code String,
    country LowCardinality(String),
    category LowCardinality(String),
    price_micros Int64,
    updated_ms Int64 DEFAULT toUnixTimestamp64Milli(now64(3))
)
ENGINE = ReplacingMergeTree(updated_ms)
ORDER BY (category, calling_code);

INSERT INTO meta_prices (calling_code, country, category, price_micros)
SELECT * FROM values(
    'calling_code String, country String, category String, price_micros Int64',
    ('82', 'KR', 'marketing', 22500), ('82', 'KR', 'utility', 5300),
    ('82', 'KR', 'authentication', 5300),
    ('1', 'US', 'marketing', 25000), ('1', 'US', 'utility', 4000),
    ('1', 'US', 'authentication', 13500),
    ('55', 'BR', 'marketing', 62500), ('55', 'BR', 'utility', 6800),
    ('55', 'BR', 'authentication', 31500),
    ('49', 'DE', 'marketing', 136500), ('49', 'DE', 'utility', 55000),
    ('49', 'DE', 'authentication', 76800),
    ('44', 'GB', 'marketing', 52900), ('44', 'GB', 'utility', 22000),
    ('44', 'GB', 'authentication', 35800),
    ('91', 'IN', 'marketing', 10700), ('91', 'IN', 'utility', 1400),
    ('91', 'IN', 'authentication', 1400),
    ('', 'other', 'marketing', 60400), ('', 'other', 'utility', 7700),
    ('', 'other', 'authentication', 22400)
)
WHERE (SELECT count() FROM meta_prices) = 0;
