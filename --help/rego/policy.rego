package main

deny contains msg if {
	input.kind == "Deployment"
	some c in input.spec.template.spec.containers
	endswith(c.image, ":latest")
	msg := sprintf("%s uses latest", [input.metadata.name])
}

deny contains msg if {
	not input.metadata.labels.app
	input.kind != "ConfigMap"
	msg := sprintf("%s has no app label", [input.metadata.name])
}

warn contains msg if {
	input.spec.replicas > 4
	msg := sprintf("%s runs %d replicas", [input.metadata.name, input.spec.replicas])
}
