import CCurl
enum VolleyHTTPModule {}
