module ladle

go 1.26

require (
	github.com/nlpodyssey/gopickle v0.2.0
	go.yaml.in/yaml/v3 v3.0.6
)
