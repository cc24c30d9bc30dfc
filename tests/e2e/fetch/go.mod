module nestkube.local/e2e/fetch

go 1.22
