-- The signed QR payload printed on each licence version (离线核验), so that the QR image
-- served later is the one on the PDF. Versions issued before have none.
ALTER TABLE licence_versions ADD COLUMN qr_payload TEXT;
