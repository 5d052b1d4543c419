//! Building and publishing the lambdascope layers.
