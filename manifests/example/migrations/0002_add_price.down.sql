DROP INDEX items_by_price;
ALTER TABLE items DROP COLUMN price_cents;
