//! traek's DSC pull server (MS-DSCPM v2). Not implemented yet: see issue 5.
