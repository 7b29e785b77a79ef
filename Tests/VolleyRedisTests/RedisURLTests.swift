import Testing
import VolleyRedis

/// `shared_limits.redis_url`: the forms redis-cli takes, TLS refused, passwords never shown.
struct RedisURLTests {
    @Test func formsAndDefaults() throws {
        let plain = try RedisURL("redis://cache.internal")
        #expect(plain.host == "cache.internal" && plain.port == 6379 && plain.database == 0)
        #expect(plain.user == nil && plain.password == nil)
        let full = try RedisURL("redis://volley:s3cr%40t@10.0.0.5:6380/2")
        #expect(full.host == "10.0.0.5" && full.port == 6380 && full.database == 2)
        #expect(full.user == "volley" && full.password == "s3cr@t")
        let passwordOnly = try RedisURL("redis://:pw@localhost/")
        #expect(passwordOnly.user == nil && passwordOnly.password == "pw")
        let ipv6 = try RedisURL("redis://[::1]:7000")
        #expect(ipv6.host == "::1" && ipv6.port == 7000)
        #expect(try RedisURL("REDIS://h:1").port == 1)
    }

    @Test func thePasswordMayComeFromTheEnvironmentAndIsNeverShown() throws {
        let url = try RedisURL("redis://volley@h:6379/0", passwordFromEnvironment: "from-env-secret")
        #expect(url.password == "from-env-secret")
        #expect(url.description == "redis://volley:***@h:6379/0")
        #expect(!"\(try RedisURL("redis://:hunter2@h"))".contains("hunter2"))
        #expect("\(try RedisURL("redis://[::1]:7000/3"))" == "redis://[::1]:7000/3")
    }

    @Test func tlsIsRefusedWithAWayOut() {
        #expect {
            try RedisURL("rediss://:pw@redis.example.com:6380")
        } throws: { error in
            let error = error as? RedisError
            return error?.kind == .configuration && error?.message.contains("local TLS tunnel") == true
                && error?.message.contains("pw") == false
        }
    }

    @Test(arguments: ["http://h", "redis://", "redis://h:0", "redis://h:99999", "redis://h:x", "redis://h/db", "redis://h/-1"])
    func unusableURLsAreRefused(_ text: String) {
        #expect(throws: RedisError.self) { try RedisURL(text) }
    }
}
