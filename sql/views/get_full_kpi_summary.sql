-- kpi_summary materialized for dashboards: the latest as_of_date, the portfolio row and each
-- property's; row_key is 'portfolio' or the property id (a plain non-null column to index).
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_kpi_summary AS
SELECT coalesce(k.property_id::text, 'portfolio') AS row_key,  -- 'portfolio', or the property's id: the row's key
       k.*
FROM kpi_summary k
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_kpi_summary_key ON get_full_kpi_summary (row_key);
