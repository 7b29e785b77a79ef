// VolleyJSON's values are part of VolleyCore's public API (an item's params, an outcome's
// value, a provider config), so every client of VolleyCore needs them: re-exporting here keeps
// `import VolleyCore` enough, instead of an extra import in some seventy files of VolleyRPC,
// VolleyRun, `volley` and their tests. Code that needs JSON alone imports VolleyJSON.
@_exported import VolleyJSON
