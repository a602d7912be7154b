-- Personal name seals: the outline of each seal and, for name seals, the person's name.
ALTER TABLE seals ADD COLUMN shape TEXT NOT NULL DEFAULT 'round'
    CHECK (shape IN ('round', 'square', 'oval'));
ALTER TABLE seals ADD COLUMN person_name TEXT;
