-- The W3C trace context (traceparent) of the request that wrote an event: the
-- relay continues that trace and carries it to the top-up service as the
-- CloudEvents extension `traceparent`. NULL when the request was not traced.
ALTER TABLE outbox_events ADD COLUMN traceparent TEXT;
