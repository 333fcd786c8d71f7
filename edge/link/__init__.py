"""The edge link: the durable outbox, the MQTT publisher that drains it, and station health."""
