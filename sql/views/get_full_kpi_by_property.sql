-- Every property row of kpi_daily_snapshot, with the property's name.
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_kpi_by_property AS
SELECT p.name AS property_name, s.*
FROM kpi_daily_snapshot s
JOIN normalized_properties p ON p.id = s.property_id AND p.gone_at IS NULL
WHERE s.scope = 'property'
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_kpi_by_property_key ON get_full_kpi_by_property (as_of_date, property_id);
