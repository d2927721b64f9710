ALTER TABLE items RENAME TO items_v2;
