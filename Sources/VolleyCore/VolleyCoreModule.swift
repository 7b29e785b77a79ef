// Placeholder until the engine lands; replaced by real sources.
enum VolleyCoreModule {}
