-- Prices in whole cents; existing items start at 0.
ALTER TABLE items ADD COLUMN price_cents INTEGER NOT NULL DEFAULT 0;
CREATE INDEX items_by_price ON items (price_cents);
