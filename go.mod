module github.com/procotel/procotel

go 1.26.8
