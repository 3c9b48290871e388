-- Routing (issue 10). A webhook receives a list of event-type keys and
-- patterns ("coupon.redeemed", "member.*", "*"), kept as a JSON array of
-- strings: ingest loads a workspace's published webhooks once per
-- transaction and matches the patterns in Go, and the list filter
-- (?event=) looks for each entry that could cover the type
-- (events LIKE '%"member.*"%'). Keys cannot contain a quote, so the
-- quoted entry is unambiguous. The old column "event" stays: it holds
-- the one plain key of a list of one (the API's compatibility field),
-- else ''.
ALTER TABLE webhooks ADD COLUMN events TEXT NOT NULL DEFAULT '[]';
UPDATE webhooks SET events = '["' || event || '"]' WHERE event <> '';
-- A Twig expression over the event's variables, evaluated at ingest; ''
-- sends every event.
ALTER TABLE webhooks ADD COLUMN route_condition TEXT NOT NULL DEFAULT '';
-- Which responses count as delivered: a comma list of codes, classes and
-- ranges ("200,201,2xx,200-299"), and a Twig expression over the response.
ALTER TABLE webhooks ADD COLUMN success_statuses TEXT NOT NULL DEFAULT '2xx';
ALTER TABLE webhooks ADD COLUMN success_condition TEXT NOT NULL DEFAULT '';
