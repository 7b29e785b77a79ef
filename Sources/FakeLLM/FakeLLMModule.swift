enum FakeLLMModule {}
