// Placeholder until the RPC layer lands; replaced by real sources.
enum VolleyRPCModule {}
