import Foundation
import VolleyHTTP

extension ProviderConfig {
    /// POSTs `body` as JSON to `base_url + path` with the provider's own headers, timeouts and
    /// CA, bounded by `timeoutSeconds` (the item's time left) and `timeouts.request`.
    /// Transport failures come back as outcome errors; any HTTP status is a response.
    func post(_ path: String, body: JSONObject, authorization: (name: String, value: String)?,
              extraHeaders: HTTPHeaders = HTTPHeaders(), timeoutSeconds: Double?, http: HTTPClient) async -> Result<HTTPResponse, ItemError> {
        var headers: HTTPHeaders = ["content-type": "application/json", "accept": "application/json"]
        for field in extraHeaders { headers.replaceOrAdd(name: field.name, value: field.value) }
        if let authorization { headers.add(name: authorization.name, value: authorization.value) }
        for (name, value) in self.headers { headers.replaceOrAdd(name: name, value: value) }
        let request = HTTPRequest(
            url: baseURL + path,
            method: "POST",
            headers: headers,
            body: JSONValue.object(body).jsonBytes,
            connectTimeoutSeconds: connectTimeoutSeconds,
            timeoutSeconds: timeoutSeconds.map { min($0, requestTimeoutSeconds) } ?? requestTimeoutSeconds,
            caFile: caFile
        )
        do {
            return .success(try await http.execute(request))
        } catch let error as HTTPClientError {
            // When the item's deadline, not the provider's request timeout, bounded the attempt,
            // a timeout is final (the engine reports it as the item's timeout).
            let bound = timeoutSeconds.map { $0 < requestTimeoutSeconds } ?? false
            return .failure(ProviderErrors.transport(error, deadlineBound: bound))
        } catch {
            return .failure(ItemError(.cancelled, "cancelled"))
        }
    }
}

extension HTTPResponse {
    /// The provider's rate-limit headers, read at the time of the response.
    var rateLimits: RateLimitState {
        RateLimitHeaders.parse(headers, nowUnixSeconds: Date().timeIntervalSince1970)
    }
}
