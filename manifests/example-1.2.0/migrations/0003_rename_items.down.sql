ALTER TABLE items_v2 RENAME TO items;
