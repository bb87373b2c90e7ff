"""Chat: a platform-neutral command layer and the front-ends that feed it."""
