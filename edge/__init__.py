"""The station side: sensors, camera and the durable link to the chain's broker."""
