import CCurl

/// A request's header fields as the `curl_slist` libcurl sends (plus an empty `Expect:`, so a
/// large body never waits for `100 Continue`).
///
/// libcurl does not copy the list, so it must outlive every transfer that uses it: each
/// transfer holds a reference, and the list is freed when the last one lets go. Transport
/// thread only (the class is never shared across threads).
final class HeaderList {
    let pointer: UnsafeMutablePointer<curl_slist>?
    /// Whether the headers name their own `User-Agent`.
    let setsUserAgent: Bool

    init(_ headers: HTTPHeaders) {
        setsUserAgent = headers.first(name: "user-agent") != nil
        var list: UnsafeMutablePointer<curl_slist>?
        for field in headers {
            list = curl_slist_append(list, "\(field.name): \(field.value)")
        }
        list = curl_slist_append(list, "Expect:")
        pointer = list
    }

    deinit {
        if let pointer { curl_slist_free_all(pointer) }
    }
}

/// Header lists by the headers they were made from. A provider sends the same headers with
/// every request, so a transfer usually finds its list here instead of building one (a dozen
/// allocations in Swift and in libcurl). Bounded: emptied when full (lists in use stay alive
/// through their transfers).
struct HeaderListCache {
    private var lists: [HTTPHeaders: HeaderList] = [:]
    private let capacity: Int

    init(capacity: Int = 64) {
        self.capacity = capacity
    }

    mutating func list(for headers: HTTPHeaders) -> HeaderList {
        if let cached = lists[headers] { return cached }
        if lists.count >= capacity { lists.removeAll(keepingCapacity: true) }
        let list = HeaderList(headers)
        lists[headers] = list
        return list
    }
}
