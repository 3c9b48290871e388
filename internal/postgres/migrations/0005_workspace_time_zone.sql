-- The IANA time zone in which a workspace's templates read date-only
-- values; '' means the server's default (--time-zone, UTC unless set).
ALTER TABLE workspaces ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
