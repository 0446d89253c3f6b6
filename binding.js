// Placeholder until `napi build` generates the loader.
module.exports = require('./tt-download.linux-x64-gnu.node')
