// Package deploy holds no code: it is the deployment of foliostream —
// deploy/compose.yaml (a 3-node NATS JetStream cluster, ClickHouse, two
// partitioned projectors and ingest watching a folder), deploy/kubernetes
// (the same on Kubernetes, with probes, resources and PodDisruptionBudgets),
// deploy/nats (the NATS server configuration) and deploy/Dockerfile (the
// image of both binaries). docs/operations.md explains them.
//
// Docker is not needed to check them: the tests of this package build the
// real binaries and check every image, command, flag, environment variable,
// config-file key, port and probe the files mention against what the
// binaries accept (their --help), parse every NATS configuration with
// nats-server's own parser, and check that the pieces refer to each other
// consistently (routes, services, partitions, secrets).
package deploy
