module github.com/scoutergo/server

go 1.26.8
